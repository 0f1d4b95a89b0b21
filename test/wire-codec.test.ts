import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BufferReader } from 'pg-protocol/dist/buffer-reader.js';
import { PgError } from '../src/errors.js';
import type { FieldDescription } from '../src/router/types.js';
import {
  AUTHENTICATION_OK,
  backendKeyData,
  commandComplete,
  dataRow,
  EMPTY_QUERY_RESPONSE,
  encodeLocalResults,
  errorResponse,
  noticeResponse,
  parameterStatus,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseErrorResponse,
  parseParameterStatus,
  parseReadyForQuery,
  readyForQuery,
  rowDescription,
  SSL_REFUSED,
} from '../src/wire/backend.js';
import { FrameReader } from '../src/wire/frames.js';
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST,
  PROTOCOL_3_0,
  parseQuery,
  parseStartupPacket,
  SSL_REQUEST,
  serializeCancelRequest,
  serializeQuery,
  serializeStartupMessage,
} from '../src/wire/frontend.js';

/** Splits serialised backend messages with the codec's own reader. */
function frames(buf: Buffer): { type: string; body: Buffer }[] {
  const r = new FrameReader();
  r.push(buf);
  const out = [];
  for (let f = r.next(); f; f = r.next())
    out.push({ type: String.fromCharCode(f.type), body: Buffer.from(f.body) });
  assert.equal(r.buffered(), 0, 'no trailing bytes');
  return out;
}

function reader(body: Buffer): BufferReader {
  const r = new BufferReader();
  r.setBuffer(0, body);
  return r;
}

function assertProtocolViolation(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof PgError && err.code === '08P01');
}

const textField = (name: string): FieldDescription => ({
  name,
  tableOid: 0,
  columnAttr: 0,
  typeOid: 25,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
});

describe('frontend messages', () => {
  test('StartupMessage round trip, UTF-8 values', () => {
    const params: [string, string][] = [
      ['user', 'jöhn'],
      ['database', 'bäse'],
      ['application_name', '☃'],
      ['options', '-c search_path=x'],
    ];
    const raw = serializeStartupMessage(params);
    assert.equal(raw.readInt32BE(0), raw.length);
    const p = parseStartupPacket(raw.subarray(4));
    assert.equal(p.kind, 'startup');
    if (p.kind !== 'startup') return;
    assert.equal(p.major, 3);
    assert.equal(p.minor, 0);
    assert.deepEqual([...p.params], params);
  });

  test('protocol 3.2 is parsed as minor version 2', () => {
    const p = parseStartupPacket(serializeStartupMessage([['user', 'a']], PROTOCOL_3_0 | 2).subarray(4));
    assert.ok(p.kind === 'startup' && p.major === 3 && p.minor === 2);
  });

  test('SSLRequest, GSSENCRequest, CancelRequest', () => {
    assert.deepEqual(parseStartupPacket(SSL_REQUEST.subarray(4)), { kind: 'ssl-request' });
    assert.deepEqual(parseStartupPacket(GSSENC_REQUEST.subarray(4)), { kind: 'gssenc-request' });
    const cancel = serializeCancelRequest(1234, Buffer.from([1, 2, 3, 4]));
    assert.equal(cancel.length, 16);
    assert.equal(cancel.readInt32BE(4), CANCEL_REQUEST_CODE);
    assert.deepEqual(parseStartupPacket(cancel.subarray(4)), {
      kind: 'cancel-request',
      processId: 1234,
      secretKey: Buffer.from([1, 2, 3, 4]),
    });
  });

  test('malformed startup packets', () => {
    // No terminator.
    const good = serializeStartupMessage([['user', 'a']]);
    assertProtocolViolation(() => parseStartupPacket(good.subarray(4, good.length - 1)));
    // A name without a value.
    const b = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from('user\0')]);
    assertProtocolViolation(() => parseStartupPacket(b));
    // Bytes after the terminator.
    assertProtocolViolation(() => parseStartupPacket(Buffer.concat([good.subarray(4), Buffer.from('x')])));
    // Cancel request with a too short key.
    assertProtocolViolation(() => parseStartupPacket(serializeCancelRequest(1, Buffer.alloc(2)).subarray(4)));
    // SSLRequest with extra bytes.
    assertProtocolViolation(() =>
      parseStartupPacket(Buffer.concat([SSL_REQUEST.subarray(4), Buffer.alloc(4)])),
    );
  });

  test('Query', () => {
    const q = serializeQuery("select 'é'");
    assert.equal(q.readInt32BE(1), q.length - 1);
    assert.equal(parseQuery(q.subarray(5)), "select 'é'");
    assertProtocolViolation(() => parseQuery(Buffer.from('no terminator')));
    assertProtocolViolation(() => parseQuery(Buffer.from('two\0strings\0')));
  });
});

describe('backend serialisers', () => {
  test('constant frames', () => {
    assert.deepEqual(SSL_REFUSED, Buffer.from('N'));
    assert.deepEqual(AUTHENTICATION_OK, Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
    assert.deepEqual(readyForQuery('I'), Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
    assert.deepEqual(readyForQuery('T'), Buffer.from([0x5a, 0, 0, 0, 5, 0x54]));
    assert.deepEqual(readyForQuery('E'), Buffer.from([0x5a, 0, 0, 0, 5, 0x45]));
    assert.deepEqual(EMPTY_QUERY_RESPONSE, Buffer.from([0x49, 0, 0, 0, 4]));
  });

  test('ParameterStatus and BackendKeyData round trip', () => {
    const [ps] = frames(parameterStatus('application_name', 'café'));
    assert.equal(ps?.type, 'S');
    assert.deepEqual(parseParameterStatus(ps?.body ?? Buffer.alloc(0)), {
      name: 'application_name',
      value: 'café',
    });
    const [k] = frames(backendKeyData(-5, Buffer.from([9, 8, 7, 6])));
    assert.equal(k?.type, 'K');
    assert.deepEqual(parseBackendKeyData(k?.body ?? Buffer.alloc(0)), {
      processId: -5,
      secretKey: Buffer.from([9, 8, 7, 6]),
    });
  });

  test('RowDescription uses byte lengths for UTF-8 names', () => {
    const fields: FieldDescription[] = [
      textField('naïve 🚀'),
      {
        name: 'n',
        tableOid: 3_000_000_000,
        columnAttr: 2,
        typeOid: 23,
        typeSize: 4,
        typeModifier: -1,
        format: 0,
      },
    ];
    const [t] = frames(rowDescription(fields));
    assert.equal(t?.type, 'T');
    const r = reader(t?.body ?? Buffer.alloc(0));
    assert.equal(r.int16(), 2);
    assert.equal(r.cstring(), 'naïve 🚀');
    assert.equal(r.uint32(), 0);
    assert.equal(r.int16(), 0);
    assert.equal(r.uint32(), 25);
    assert.equal(r.int16(), -1);
    assert.equal(r.int32(), -1);
    assert.equal(r.int16(), 0);
    assert.equal(r.cstring(), 'n');
    assert.equal(r.uint32(), 3_000_000_000);
    assert.equal(r.int16(), 2);
    assert.equal(r.uint32(), 23);
    assert.equal(r.int16(), 4);
    assert.equal(r.int32(), -1);
    assert.equal(r.int16(), 0);
  });

  test('DataRow uses byte lengths and -1 for NULL', () => {
    const [d] = frames(dataRow(['€', null, '', 'ascii', '𝄞x']));
    assert.equal(d?.type, 'D');
    const body = d?.body ?? Buffer.alloc(0);
    const r = reader(body);
    assert.equal(r.int16(), 5);
    assert.equal(r.int32(), 3);
    assert.equal(r.string(3), '€');
    assert.equal(r.int32(), -1);
    assert.equal(r.int32(), 0);
    assert.equal(r.int32(), 5);
    assert.equal(r.string(5), 'ascii');
    assert.equal(r.int32(), 5);
    assert.equal(r.string(5), '𝄞x');
  });

  test('CommandComplete', () => {
    const [c] = frames(commandComplete('SELECT 3'));
    assert.equal(c?.type, 'C');
    assert.equal(c?.body.toString(), 'SELECT 3\0');
  });

  test('encodeLocalResults equals the individual messages concatenated', () => {
    const fields = [textField('a'), textField('ü')];
    const rows = [
      ['1', 'x'],
      [null, 'ÿ'],
    ];
    const all = encodeLocalResults(
      [
        { fields, rows, commandTag: 'SELECT 2' },
        { fields: [textField('z')], rows: [], commandTag: 'SELECT 0' },
      ],
      'T',
    );
    const expected = Buffer.concat([
      rowDescription(fields),
      dataRow(rows[0] ?? []),
      dataRow(rows[1] ?? []),
      commandComplete('SELECT 2'),
      rowDescription([textField('z')]),
      commandComplete('SELECT 0'),
      readyForQuery('T'),
    ]);
    assert.deepEqual(all, expected);
    assert.deepEqual(encodeLocalResults([], 'I'), Buffer.concat([EMPTY_QUERY_RESPONSE, readyForQuery('I')]));
  });

  test('ErrorResponse from a PgError carries every field, and parses back', () => {
    const err = new PgError({
      code: '42P01',
      message: 'relation "nöpe" does not exist',
      detail: 'd',
      hint: 'h',
      position: 15,
      where: 'w',
      schema: 's',
      table: 't',
      column: 'c',
      dataType: 'dt',
      constraint: 'n',
    });
    const [e] = frames(errorResponse(err));
    assert.equal(e?.type, 'E');
    const body = e?.body ?? Buffer.alloc(0);
    const f = parseErrorFields(body);
    assert.deepEqual(
      [...f],
      [
        ['S', 'ERROR'],
        ['V', 'ERROR'],
        ['C', '42P01'],
        ['M', 'relation "nöpe" does not exist'],
        ['D', 'd'],
        ['H', 'h'],
        ['P', '15'],
        ['W', 'w'],
        ['s', 's'],
        ['t', 't'],
        ['c', 'c'],
        ['d', 'dt'],
        ['n', 'n'],
      ],
    );
    assert.deepEqual(parseErrorResponse(body), { ...err.fields });
    const [n] = frames(noticeResponse({ code: '01000', message: 'hi' }));
    assert.equal(n?.type, 'N');
    assert.equal(parseErrorFields(n?.body ?? Buffer.alloc(0)).get('S'), 'NOTICE');
  });

  test('ReadyForQuery and Authentication parsers', () => {
    assert.equal(parseReadyForQuery(Buffer.from('E')), 'E');
    assertProtocolViolation(() => parseReadyForQuery(Buffer.from('X')));
    const [r] = frames(AUTHENTICATION_OK);
    assert.equal(parseAuthentication(r?.body ?? Buffer.alloc(0)).code, 0);
  });
});
