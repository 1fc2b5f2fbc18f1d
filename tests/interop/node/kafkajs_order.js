// kafkajs keeping several Produce requests in flight on one partition.
// Usage: node kafkajs_order.js <bootstrap> <topic> <count> <idempotent 0|1>
// Sends `count` numbered records (values "0".."count-1") to partition 0, ten per
// request, with up to five requests outstanding at once, and prints where each
// request's records were stored ("bases: {first value: base offset, ...}"); the
// caller reads the partition back and checks it against that. Exits non-zero on
// any send error.
//
// kafkajs does not keep the order of concurrent send() calls itself (its
// idempotent producer even serialises them behind a per-broker lock, whose
// waiters are not served in call order), so the order to check is the one each
// send was acknowledged with, not the call order.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, countArg, idemArg] = process.argv.slice(2);
const COUNT = Number(countArg);
const IDEMPOTENT = idemArg === '1';
const PER_REQUEST = 10;
const WINDOW = 5;

async function main() {
  const kafka = new Kafka({ clientId: 'vltava-order', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const producer = kafka.producer({ idempotent: IDEMPOTENT, maxInFlightRequests: WINDOW });
  await producer.connect();
  // One send awaited first: kafkajs refreshes its metadata inside the first
  // sends, and sends that start while a refresh is running can overtake the
  // ones waiting for it (client-side reordering, not the broker's).
  await producer.send({ topic, messages: [{ value: '-1', partition: 0 }], acks: -1 });
  const outstanding = new Set();
  const bases = {};
  for (let base = 0; base < COUNT; base += PER_REQUEST) {
    const messages = [];
    for (let i = base; i < Math.min(base + PER_REQUEST, COUNT); i++) {
      messages.push({ value: String(i), partition: 0 });
    }
    const first = base;
    const p = producer.send({ topic, messages, acks: -1 }).then((r) => {
      bases[first] = Number(r[0].baseOffset);
    });
    outstanding.add(p);
    p.finally(() => outstanding.delete(p));
    if (outstanding.size >= WINDOW) await Promise.race(outstanding);
  }
  await Promise.all(outstanding);
  await producer.disconnect();
  return `kafkajs order ok: ${COUNT} sent\nbases: ${JSON.stringify(bases)}\n`;
}

// Exit only once the (large) output is written: stdout to a pipe is asynchronous.
main().then(
  (out) => process.stdout.write(out, () => process.exit(0)),
  (e) => { console.error(e); process.exit(1); },
);
