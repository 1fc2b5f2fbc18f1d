"""Test certificates made with the `openssl` CLI into a directory: a CA, a server
certificate for 127.0.0.1/localhost, and client certificates (one signed by the CA,
one self-signed that the broker must not trust), and a node key store for 127.0.0.1 good
for both ends of a cluster's internal links (server and client authentication, as a node
presents it when it connects to another node's listener with ssl.client.auth=required).
EC P-256 keys keep it fast."""
import os
import subprocess
from pathlib import Path

CLIENT_SUBJECT = "/C=CZ/O=Vltava/OU=tests/CN=client"


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key(name, cwd):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", f"{name}.key", cwd=cwd)


def _signed(name, subject, ext, cwd, ca="ca"):
    _key(name, cwd)
    _run("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    Path(cwd, f"{name}.ext").write_text(ext)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
         "-out", f"{name}.pem", cwd=cwd)


def make_certs(directory):
    """Writes the files and returns their paths by role."""
    d = str(directory)
    os.makedirs(d, exist_ok=True)
    _key("ca", d)
    _run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=vltava-test-ca", "-days", "2",
         "-sha256", "-out", "ca.pem", cwd=d)
    _signed("server", "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", d)
    _signed("client", CLIENT_SUBJECT, "extendedKeyUsage=clientAuth\n", d)
    _signed("node", "/CN=node",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n", d)
    node_keystore = Path(d, "node-keystore.pem")
    node_keystore.write_text(Path(d, "node.key").read_text() + Path(d, "node.pem").read_text())
    # A client the broker's trust store does not know.
    _key("rogue", d)
    _run("req", "-x509", "-new", "-key", "rogue.key", "-subj", "/CN=rogue", "-days", "2",
         "-out", "rogue.pem", cwd=d)
    keystore = Path(d, "server-keystore.pem")
    keystore.write_text(Path(d, "server.key").read_text() + Path(d, "server.pem").read_text())
    return {
        "dir": d,
        "ca": os.path.join(d, "ca.pem"),
        "keystore": str(keystore),
        "node_keystore": str(node_keystore),
        "server_cert": os.path.join(d, "server.pem"),
        "server_key": os.path.join(d, "server.key"),
        "client_cert": os.path.join(d, "client.pem"),
        "client_key": os.path.join(d, "client.key"),
        "rogue_cert": os.path.join(d, "rogue.pem"),
        "rogue_key": os.path.join(d, "rogue.key"),
    }
