//! SCRAM's derivations (RFC 5802 §3) for either hash: `Hi` (PBKDF2 with HMAC),
//! `ClientKey`, `StoredKey`, `ServerKey`, signatures and proofs, and the constant-time
//! comparison the server checks proofs with.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{ScramCredential, ScramMechanism};

fn hmac_of<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length, so this arm never runs; an empty result would
        // only make every comparison fail.
        Err(_) => Vec::new(),
    }
}

/// `HMAC(key, parts...)` with the mechanism's hash.
pub fn hmac(mechanism: ScramMechanism, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => hmac_of::<Hmac<Sha256>>(key, parts),
        ScramMechanism::Sha512 => hmac_of::<Hmac<Sha512>>(key, parts),
    }
}

/// `H(data)` with the mechanism's hash.
pub fn hash(mechanism: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, iterations)`: the salted password (PBKDF2 with the mechanism's
/// HMAC, one block). What AlterUserScramCredentials carries as `salted_password`.
pub fn salted_password(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    let mut out = vec![0u8; mechanism.hash_len()];
    match mechanism {
        ScramMechanism::Sha256 => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
        }
        ScramMechanism::Sha512 => {
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
        }
    }
    out
}

/// `ClientKey = HMAC(SaltedPassword, "Client Key")`.
pub fn client_key(mechanism: ScramMechanism, salted_password: &[u8]) -> Vec<u8> {
    hmac(mechanism, salted_password, &[b"Client Key"])
}

/// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
pub fn server_key(mechanism: ScramMechanism, salted_password: &[u8]) -> Vec<u8> {
    hmac(mechanism, salted_password, &[b"Server Key"])
}

/// The stored credential for a salted password (what the controller writes to the
/// metadata log).
pub fn credential_from_salted_password(
    mechanism: ScramMechanism,
    salted_password: &[u8],
    salt: &[u8],
    iterations: i32,
) -> ScramCredential {
    ScramCredential {
        salt: salt.to_vec(),
        stored_key: hash(mechanism, &client_key(mechanism, salted_password)),
        server_key: server_key(mechanism, salted_password),
        iterations,
    }
}

/// The stored credential for a password (tests and tools; the broker never sees one).
pub fn credential_from_password(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: i32,
) -> ScramCredential {
    let salted = salted_password(mechanism, password, salt, iterations.max(1) as u32);
    credential_from_salted_password(mechanism, &salted, salt, iterations)
}

/// `a XOR b` (the shorter length when they differ).
pub fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Whether `a == b`, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
