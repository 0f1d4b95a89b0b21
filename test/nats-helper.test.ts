import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNats } from './helpers/nats.js';

test('test helper starts a real nats-server -js; restart keeps stream data on the same port', async () => {
  const nats = await startNats();
  try {
    let nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HELPER', subjects: ['helper.>'] });
    const js = jetstream(nc);
    const ack = await js.publish('helper.x', 'one', { msgID: 'm1' });
    assert.equal(ack.seq, 1);
    const dup = await js.publish('helper.x', 'one', { msgID: 'm1' });
    assert.equal(dup.duplicate, true, 'JetStream dedup by Nats-Msg-Id works');
    await nc.close();

    await nats.kill();
    assert.equal(nats.running, false);
    await assert.rejects(connect({ servers: nats.url, reconnect: false, timeout: 500 }));
    await nats.restart();
    assert.equal(nats.running, true);

    nc = await connect({ servers: nats.url });
    const info = await (await jetstreamManager(nc)).streams.info('HELPER');
    assert.equal(info.state.messages, 1);
    assert.equal(info.state.last_seq, 1);
    const msg = await (await jetstreamManager(nc)).streams.getMessage('HELPER', { seq: 1 });
    assert.equal(msg?.string(), 'one');
    await nc.close();
  } finally {
    await nats.cleanup();
  }
});
