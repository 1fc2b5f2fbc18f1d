// kafkajs transactions against a running broker: one committed and one aborted
// transaction; a read_committed group consumer (kafkajs' default) sees only the
// committed records, a readUncommitted one sees both.
// Usage: node kafkajs_txn.js <bootstrap> <topic>; exits non-zero on failure.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic] = process.argv.slice(2);

async function consume(kafka, readUncommitted, expected) {
  const consumer = kafka.consumer({ groupId: `kjs-txn-${readUncommitted}-${Date.now()}`, readUncommitted });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.length} of ${expected} messages`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        if (seen.length === expected) {
          clearTimeout(timer);
          // Anything beyond `expected` would arrive within this wait.
          setTimeout(resolve, 2000);
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return seen.sort();
}

async function main() {
  const kafka = new Kafka({ clientId: 'vltava-interop-txn', brokers: [bootstrap], logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka.producer({ transactionalId: `kjs-${Date.now()}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2, 3, 4].map((i) => ({ value: `c${i}`, partition: i % 2 })) });
  await txn.commit();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `a${i}`, partition: i % 2 })) });
  await txn.abort();
  await producer.disconnect();

  const committed = await consume(kafka, false, 5);
  const want = ['c0', 'c1', 'c2', 'c3', 'c4'];
  if (JSON.stringify(committed) !== JSON.stringify(want)) throw new Error(`read_committed got ${committed}`);
  const all = await consume(kafka, true, 8);
  const wantAll = ['a0', 'a1', 'a2', ...want].sort();
  if (JSON.stringify(all) !== JSON.stringify(wantAll)) throw new Error(`read_uncommitted got ${all}`);
  console.log(`kafkajs txn ok: ${committed.length} committed, ${all.length} in all`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
