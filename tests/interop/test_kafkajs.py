"""kafkajs (non-flexible versions, ignores broker minimum versions) against the
broker: admin create, producer, group consumer, transactions. Needs `npm ci` in node/
(./test.sh runs it); fails if kafkajs is missing."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def test_kafkajs_producer_and_group_consumer(broker):
    node_dir = os.path.join(HERE, "node")
    assert os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")), \
        "kafkajs is not installed: run `npm ci` in tests/interop/node (./test.sh does)"
    r = subprocess.run(["node", "kafkajs_check.js", broker.bootstrap, "kjs"], cwd=node_dir,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kafkajs ok: 200 messages" in r.stdout


def test_kafkajs_transactions(broker):
    node_dir = os.path.join(HERE, "node")
    assert os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")), \
        "kafkajs is not installed: run `npm ci` in tests/interop/node (./test.sh does)"
    r = subprocess.run(["node", "kafkajs_txn.js", broker.bootstrap, "kjs-txn"], cwd=node_dir,
                       capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kafkajs txn ok: 5 committed, 8 in all" in r.stdout
