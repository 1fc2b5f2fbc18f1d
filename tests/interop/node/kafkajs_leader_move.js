// kafkajs through a partition leader move in a three-node cluster.
// Usage: node kafkajs_leader_move.js <bootstrap,list> <topic> <produce seconds>
// A group consumer reads the topic while an acks=all producer sends numbered
// records, five per request, one request at a time. Once both run (a record was
// acknowledged and consumed) it prints "ready"; the caller then kills or stops the
// partition leader. After <produce seconds> more it stops producing, waits until
// the consumer has seen every acknowledged record (at most 60 s) and prints one
// JSON line: {"acked": [[partition, offset, value], ...], "consumed": [...],
// "failed": n, "errors": [first few send errors], "ackedAtReady": n}.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg);

async function main() {
  const kafka = new Kafka({
    clientId: 'vltava-leader-move',
    brokers: bootstrap.split(','),
    // KAFKAJS_LOG=debug: kafkajs's log on stderr, for diagnosis.
    logLevel: process.env.KAFKAJS_LOG === 'debug' ? logLevel.DEBUG : logLevel.NOTHING,
    logCreator: () => ({ namespace, level, log }) =>
      console.error(JSON.stringify({ level, namespace, ...log })),
    retry: { initialRetryTime: 200, retries: 8 },
  });
  const consumed = [];
  // kafkajs keeps its group coordinator until an error says otherwise: when the killed
  // node was the coordinator, the consumer retries the dead connection a few times, then
  // crashes and restarts (restartOnFailure), finding the new coordinator as it rejoins.
  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 10000,
    heartbeatInterval: 1000, maxWaitTimeInMs: 500, retry: { initialRetryTime: 200, retries: 3 } });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      consumed.push([partition, Number(message.offset), Number(message.value.toString())]);
    },
  });
  const producer = kafka.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  const acked = [];
  const errors = [];
  let failed = 0;
  let next = 0;
  async function sendOne() {
    const values = [next, next + 1, next + 2, next + 3, next + 4];
    next += 5;
    try {
      const r = await producer.send({
        topic, acks: -1, timeout: 10000,
        messages: values.map((v) => ({ value: String(v), partition: 0 })),
      });
      const base = Number(r[0].baseOffset);
      values.forEach((v, i) => acked.push([0, base + i, v]));
    } catch (e) {
      failed += values.length;
      if (errors.length < 5) errors.push(String(e && (e.type || e.message || e)));
    }
  }
  const readyBy = Date.now() + 60000;
  while (acked.length === 0 || consumed.length === 0) {
    if (Date.now() > readyBy) throw new Error('never ready');
    await sendOne();
    await new Promise((r) => setTimeout(r, 50));
  }
  const ackedAtReady = acked.length;
  process.stdout.write('ready\n');
  // At least <produce seconds>, and until 100 records were acknowledged after the move
  // (kafkajs's own retries may hold one send for a while), at most 45 s.
  const stopAt = Date.now() + SECONDS * 1000;
  const giveUpAt = Date.now() + 45000;
  while (Date.now() < giveUpAt && (Date.now() < stopAt || acked.length < ackedAtReady + 100)) {
    await sendOne();
    await new Promise((r) => setTimeout(r, 20));
  }
  const want = new Set(acked.map((a) => a[2]));
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const seen = new Set(consumed.map((c) => c[2]));
    if ([...want].every((v) => seen.has(v))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await producer.disconnect();
  await consumer.disconnect();
  return `${JSON.stringify({ acked, consumed, failed, errors, ackedAtReady })}\n`;
}

main().then(
  (out) => process.stdout.write(out, () => process.exit(0)),
  (e) => { console.error(e); process.exit(1); },
);
