//! Test certificates made with the `openssl` command: a CA and one key store
//! (key + certificate, PEM) for `localhost` / `127.0.0.1`, without an extended key usage
//! so the same key store serves a broker's listener and its client side (inter-broker
//! TLS, `ssl.client.auth`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files [`make`] writes.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate (a PEM trust store).
    pub ca: PathBuf,
    /// Key and certificate of `localhost` / `127.0.0.1`, signed by the CA (a PEM key store).
    pub keystore: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Writes a CA and a key store signed by it into `dir` (valid for two days).
pub fn make(dir: &Path) -> Result<TestCerts, String> {
    for name in ["ca", "node"] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        )?;
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=vltava-test-ca",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
    )?;
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "node.key",
            "-subj",
            "/CN=localhost",
            "-out",
            "node.csr",
        ],
    )?;
    std::fs::write(
        dir.join("node.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "node.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "node.ext",
            "-out",
            "node.pem",
        ],
    )?;
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{f}: {e}"));
    let keystore = dir.join("keystore.pem");
    std::fs::write(&keystore, [read("node.key")?, read("node.pem")?].concat())
        .map_err(|e| e.to_string())?;
    Ok(TestCerts {
        ca: dir.join("ca.pem"),
        keystore,
    })
}
