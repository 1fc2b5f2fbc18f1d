//! TLS and SASL on raw sockets: Kafka's authentication sequence on a SASL_PLAINTEXT
//! listener (ApiVersions first, SaslHandshake, SaslAuthenticate; anything else before
//! authentication closes the connection), bad credentials and malformed tokens, the v0
//! handshake's bare tokens, garbage instead of a TLS handshake, a real TLS client, and
//! start-up errors for key stores Vltava cannot use. After each bad client the broker
//! keeps serving others.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_broker::config::{BrokerConfig, parse_properties};
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, RequestHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::support::LIMIT;

const JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#;

async fn start(extra: &str) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let node = try_start(dir.path(), extra).await.unwrap();
    (node, dir)
}

async fn try_start(dir: &Path, extra: &str) -> Result<Node, vltava_broker::node::NodeError> {
    let props = parse_properties(&format!(
        "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nlog.dirs={}\nsasl.enabled.mechanisms=PLAIN\nlistener.name.sasl_plaintext.plain.sasl.jaas.config={JAAS}\n{extra}",
        dir.join("data").display()
    ));
    Node::start(BrokerConfig::from_properties(props).unwrap()).await
}

/// A raw connection that sends requests and reads answers or the close.
struct Raw<S> {
    s: S,
    corr: i32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    fn new(s: S) -> Self {
        Raw { s, corr: 0 }
    }

    async fn send(&mut self, version: i16, body: RequestBody) -> (ApiKey, i32) {
        self.corr += 1;
        let key = body.api_key();
        let header = RequestHeader {
            request_api_key: key.as_i16(),
            request_api_version: version,
            correlation_id: self.corr,
            client_id: Some("security-test".into()),
            ..Default::default()
        };
        self.s
            .write_all(&encode_request(&header, &body).unwrap())
            .await
            .unwrap();
        self.s.flush().await.unwrap();
        (key, self.corr)
    }

    /// One size-prefixed frame, or `None` when the broker closed.
    async fn frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        tokio::time::timeout(LIMIT, self.s.read_exact(&mut len))
            .await
            .unwrap()
            .ok()?;
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        tokio::time::timeout(LIMIT, self.s.read_exact(&mut buf))
            .await
            .unwrap()
            .ok()?;
        Some(buf.into())
    }

    async fn call(&mut self, version: i16, body: RequestBody) -> Option<ResponseBody> {
        let (key, corr) = self.send(version, body).await;
        let f = self.frame().await?;
        let (h, body) = decode_response(&f, key, version).unwrap();
        assert_eq!(h.correlation_id, corr);
        Some(body)
    }

    /// Reads until the broker closes (a TLS alert may come first); fails on a timeout.
    async fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(LIMIT, self.s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "connection should be closed");
        assert!(
            rest.len() < 64,
            "only an alert may come before the close: {rest:?}"
        );
    }

    async fn handshake(&mut self, version: i16, mechanism: &str) -> (i16, Vec<String>) {
        let body = RequestBody::from(SaslHandshakeRequest {
            mechanism: mechanism.into(),
        });
        let Some(ResponseBody::SaslHandshake(r)) = self.call(version, body).await else {
            panic!("no SaslHandshake answer")
        };
        (
            r.error_code,
            r.mechanisms
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
        )
    }

    async fn authenticate(&mut self, token: &[u8]) -> (i16, Option<String>, i64) {
        let body = RequestBody::from(SaslAuthenticateRequest {
            auth_bytes: Bytes::copy_from_slice(token),
            ..Default::default()
        });
        let Some(ResponseBody::SaslAuthenticate(r)) = self.call(2, body).await else {
            panic!("no SaslAuthenticate answer")
        };
        (
            r.error_code,
            r.error_message.map(|m| m.as_str().to_string()),
            r.session_lifetime_ms,
        )
    }
}

fn metadata() -> RequestBody {
    RequestBody::from(MetadataRequest {
        topics: None,
        ..Default::default()
    })
}

fn api_versions() -> RequestBody {
    RequestBody::from(ApiVersionsRequest {
        client_software_name: "t".into(),
        client_software_version: "1".into(),
        ..Default::default()
    })
}

async fn sasl(node: &Node) -> Raw<TcpStream> {
    let addr = node.listener_addr("SASL_PLAINTEXT").unwrap();
    Raw::new(TcpStream::connect(addr).await.unwrap())
}

/// The broker still serves a PLAINTEXT client and a correct SASL login.
async fn check_alive(node: &Node) {
    let mut c = Raw::new(TcpStream::connect(node.addr).await.unwrap());
    assert!(matches!(
        c.call(12, metadata()).await,
        Some(ResponseBody::Metadata(_))
    ));
    let mut c = sasl(node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await.0, 0);
}

#[tokio::test]
async fn sasl_plain_follows_kafkas_sequence() {
    let (node, _d) = start("").await;
    let sasl_port = i32::from(node.listener_addr("SASL_PLAINTEXT").unwrap().port());
    let mut c = sasl(&node).await;
    assert!(matches!(
        c.call(3, api_versions()).await,
        Some(ResponseBody::ApiVersions(r)) if r.error_code == 0
    ));
    assert_eq!(
        c.handshake(1, "PLAIN").await,
        (0, vec!["PLAIN".to_string()])
    );
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await, (0, None, 0));
    // Authenticated: other requests are served, with this listener's endpoint.
    let Some(ResponseBody::Metadata(m)) = c.call(12, metadata()).await else {
        panic!()
    };
    assert_eq!(m.brokers.len(), 1);
    assert_eq!(m.brokers[0].port, sasl_port);
    node.shutdown().await;
}

#[tokio::test]
async fn requests_before_authentication_close_the_connection() {
    let (node, _d) = start("").await;
    // Metadata before anything: closed, unanswered.
    let mut c = sasl(&node).await;
    assert!(c.call(12, metadata()).await.is_none());
    // Metadata after the handshake, before SaslAuthenticate: closed.
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert!(c.call(12, metadata()).await.is_none());
    // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, then closed.
    let mut c = sasl(&node).await;
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await.0, 34);
    c.assert_closed().await;
    // An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, closed.
    let mut c = sasl(&node).await;
    assert_eq!(
        c.handshake(1, "SCRAM-SHA-256").await,
        (33, vec!["PLAIN".to_string()])
    );
    c.assert_closed().await;
    check_alive(&node).await;
    node.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_and_malformed_tokens_fail_alike() {
    let (node, _d) = start("").await;
    let mut answers = Vec::new();
    for token in [&b"\0alice\0wrong"[..], b"\0mallory\0alice-secret"] {
        let mut c = sasl(&node).await;
        assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
        let (code, msg, _) = c.authenticate(token).await;
        assert_eq!(code, 58);
        answers.push(msg);
        c.assert_closed().await;
    }
    assert_eq!(
        answers[0], answers[1],
        "unknown user and wrong password look alike"
    );
    assert!(
        answers[0]
            .as_deref()
            .unwrap()
            .contains("Invalid username or password")
    );
    for token in [
        &b""[..],
        b"alice",
        b"\0alice",
        b"\xff\0\xfe\0\xfd",
        b"\0\0x",
    ] {
        let mut c = sasl(&node).await;
        assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
        assert_eq!(c.authenticate(token).await.0, 58, "{token:?}");
        c.assert_closed().await;
    }
    // A garbage frame and an oversized one before authentication: closed.
    let mut c = sasl(&node).await;
    c.s.write_all(&[0, 0, 0, 3, 1, 2, 3]).await.unwrap();
    c.assert_closed().await;
    let mut c = sasl(&node).await;
    c.s.write_all(&(64u32 << 20).to_be_bytes()).await.unwrap();
    c.assert_closed().await;
    check_alive(&node).await;
    node.shutdown().await;
}

#[tokio::test]
async fn a_v0_handshake_takes_bare_tokens() {
    let (node, _d) = start("").await;
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(0, "PLAIN").await.0, 0);
    let token = b"\0alice\0alice-secret";
    c.s.write_all(&(token.len() as u32).to_be_bytes())
        .await
        .unwrap();
    c.s.write_all(token).await.unwrap();
    assert_eq!(c.frame().await.unwrap().len(), 0, "an empty server token");
    assert!(matches!(
        c.call(12, metadata()).await,
        Some(ResponseBody::Metadata(_))
    ));
    // A wrong password on v0: closed without an answer, as Kafka does.
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(0, "PLAIN").await.0, 0);
    let token = b"\0alice\0nope";
    c.s.write_all(&(token.len() as u32).to_be_bytes())
        .await
        .unwrap();
    c.s.write_all(token).await.unwrap();
    assert!(c.frame().await.is_none());
    node.shutdown().await;
}

/// A CA and a server key store made with the `openssl` CLI in `dir`.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for name in ["ca", "server"] {
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{name}.key"),
        ]);
    }
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=test-ca",
        "-days",
        "2",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let ks = [
        std::fs::read_to_string(dir.join("server.key")).unwrap(),
        std::fs::read_to_string(dir.join("server.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("keystore.pem"), ks).unwrap();
    run(&[
        "pkcs8",
        "-topk8",
        "-in",
        "server.key",
        "-passout",
        "pass:secret",
        "-out",
        "encrypted.key",
    ]);
}

fn ssl_props(dir: &Path) -> String {
    format!(
        "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nssl.keystore.type=PEM\nssl.keystore.location={}\n",
        dir.join("keystore.pem").display()
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> crate::zero_copy_fetch::Fetcher for Raw<S> {
    async fn fetch_records(&mut self, version: i16, req: RequestBody) -> Vec<(i16, Bytes)> {
        let answer = self
            .call(version, req)
            .await
            .expect("an answer, not a close");
        crate::zero_copy_fetch::records(answer)
    }
}

/// A TLS connection to `addr` from a client that trusts the CA in `certs`.
async fn tls_connect(
    certs: &Path,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certs.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// Records a TLS connection fetches (copied from the segment files once, then
/// encrypted) are those a plaintext connection gets with `sendfile`, across segments.
#[tokio::test]
async fn tls_fetches_get_the_records_plaintext_fetches_get() {
    use crate::zero_copy_fetch::{consume, fill};

    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let (node, _d) = start(&ssl_props(certs.path())).await;
    let mut plain = crate::support::Client::connect(&node).await;
    let (id, expected) = fill(&mut plain, "zc-tls", 2, 40).await;
    let mut tls = Raw::new(tls_connect(certs.path(), node.listener_addr("SSL").unwrap()).await);
    for version in [12, 17] {
        let (max, part_max) = (5_000, 1_500);
        let topic = ("zc-tls", id);
        let (got, over_tls) = consume(&mut tls, version, topic, 2, max, part_max).await;
        assert_eq!(got, expected, "v{version} over TLS");
        let (_, over_tcp) = consume(&mut plain, version, topic, 2, max, part_max).await;
        assert_eq!(over_tls, over_tcp, "v{version}");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn tls_garbage_is_refused_and_a_real_tls_client_is_served() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let (node, _d) = start(&ssl_props(certs.path())).await;
    let ssl = node.listener_addr("SSL").unwrap();
    // Garbage instead of a ClientHello, and plain Kafka on the TLS port: closed.
    let mut c = Raw::new(TcpStream::connect(ssl).await.unwrap());
    c.s.write_all(b"GET / HTTP/1.1\r\n\r\n\x16\x03\x01\xff\xff garbage")
        .await
        .unwrap();
    c.assert_closed().await;
    let mut c = Raw::new(TcpStream::connect(ssl).await.unwrap());
    assert!(c.call(3, api_versions()).await.is_none());
    // A TLS client that trusts the CA is served, and told the SSL endpoint.
    let tls = tls_connect(certs.path(), ssl).await;
    let mut c = Raw::new(tls);
    let Some(ResponseBody::Metadata(m)) = c.call(12, metadata()).await else {
        panic!()
    };
    assert_eq!(m.brokers[0].port, i32::from(ssl.port()));
    check_alive(&node).await;
    node.shutdown().await;
}

#[tokio::test]
async fn key_stores_vltava_cannot_use_stop_the_start() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let props = ssl_props(certs.path());
    let cases = [
        (props.replace("ssl.keystore.type=PEM", "ssl.keystore.type=JKS"), "use PEM"),
        (
            format!(
                "{props}listener.name.ssl.ssl.keystore.location={}\n",
                certs.path().join("ca.key").display()
            ),
            "no PEM certificate",
        ),
        (
            props.replace("ssl.keystore.location", "ssl.keystore.certificate.chain")
                + "ssl.keystore.key=x\n",
            "certificate",
        ),
        (
            format!(
                "listeners=SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nssl.keystore.certificate.chain={}\nssl.keystore.key={}\n",
                std::fs::read_to_string(certs.path().join("server.pem")).unwrap().replace('\n', "\\n"),
                std::fs::read_to_string(certs.path().join("encrypted.key")).unwrap().replace('\n', "\\n"),
            ),
            "encrypted private keys",
        ),
        (format!("{props}ssl.client.auth=required\n"), "trust store"),
        (format!("{props}ssl.enabled.protocols=TLSv1.1\n"), "TLSv1.2"),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config=nonsense\n".to_string(), "JAAS"),
        // Named as the inter-broker listener, SSL needs a trust store for the broker's own
        // connections.
        (
            format!("{props}inter.broker.listener.name=SSL\n"),
            "inter-broker listener SSL",
        ),
        (
            "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\ninter.broker.listener.name=SASL_PLAINTEXT\nsasl.enabled.mechanisms=PLAIN\nlistener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"b\";\n"
                .to_string(),
            "sasl.mechanism.inter.broker.protocol",
        ),
    ];
    for (extra, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let err = try_start(dir.path(), &extra).await.unwrap_err().to_string();
        assert!(err.contains(want), "{want:?} not in {err:?} for {extra}");
    }
}

#[tokio::test]
async fn sessions_expire_unless_the_client_re_authenticates() {
    let (node, _d) = start("connections.max.reauth.ms=1500\n").await;
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(
        c.authenticate(b"\0alice\0alice-secret").await,
        (0, None, 1500)
    );
    // Re-authenticating mid-connection renews the session (KIP-368).
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
        assert_eq!(
            c.authenticate(b"\0alice\0alice-secret").await,
            (0, None, 1500)
        );
        assert!(matches!(
            c.call(12, metadata()).await,
            Some(ResponseBody::Metadata(_))
        ));
    }
    // Without it, the first request after the end closes the connection.
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert!(c.call(12, metadata()).await.is_none());
    // Re-authenticating with another mechanism or a wrong password is refused and closes.
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await.0, 0);
    assert_eq!(c.handshake(1, "SCRAM-SHA-512").await.0, 33);
    c.assert_closed().await;
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await.0, 0);
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(c.authenticate(b"\0alice\0wrong").await.0, 58);
    c.assert_closed().await;
    check_alive(&node).await;
    node.shutdown().await;
}

#[tokio::test]
async fn without_reauth_ms_sessions_do_not_expire_and_re_handshakes_are_refused() {
    let (node, _d) = start("").await;
    let mut c = sasl(&node).await;
    assert_eq!(c.handshake(1, "PLAIN").await.0, 0);
    assert_eq!(c.authenticate(b"\0alice\0alice-secret").await, (0, None, 0));
    assert_eq!(c.handshake(1, "PLAIN").await.0, 34);
    c.assert_closed().await;
    node.shutdown().await;
}
