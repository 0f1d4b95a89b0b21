/**
 * CancelRequest for node-postgres clients, which have no cancel API: the
 * client's BackendKeyData (as Outpost sent it) over a new raw connection.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { connect } from 'node:net';
import type pg from 'pg';
import { serializeCancelRequest } from '../../src/wire/frontend.js';

export function cancelRequest(port: number, client: pg.Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const key = Buffer.alloc(4);
  key.writeInt32BE(secretKey);
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(serializeCancelRequest(processID, key)));
    s.on('error', reject);
    s.resume();
    s.on('close', () => resolve());
  });
}
