//! Writes the seed corpora of the `protocol_request` and `protocol_response`
//! fuzz targets: `cargo run -p vltava-protocol --features testing --example
//! protocol_fuzz_seeds -- fuzz/corpus`. One random valid request and response per API
//! key and version, plus the real-client captures.

use std::path::PathBuf;
use vltava_protocol::frame::{encode_request, encode_response};
use vltava_protocol::messages::RequestHeader;
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: protocol_fuzz_seeds <corpus-dir>")?,
    );
    let req_dir = out.join("protocol_request");
    let resp_dir = out.join("protocol_response");
    std::fs::create_dir_all(&req_dir)?;
    std::fs::create_dir_all(&resp_dir)?;
    for (index, key) in ApiKey::ALL.iter().enumerate() {
        for version in key.min_version()..=key.max_version() {
            let mut g = Gen::new((key.as_i16() as u64) << 16 | version as u64);
            let body = RequestBody::random(*key, &mut g, version);
            let header = RequestHeader {
                request_api_key: key.as_i16(),
                request_api_version: version,
                correlation_id: 1,
                client_id: Some("seed".into()),
                ..Default::default()
            };
            let wire = encode_request(&header, &body)?;
            std::fs::write(
                req_dir.join(format!("{}-v{version}", key.name())),
                &wire[4..],
            )?;
            let body = ResponseBody::random(*key, &mut g, version);
            let wire = encode_response(1, version, &body)?;
            let mut seed = vec![index as u8, (version - key.min_version()) as u8];
            seed.extend_from_slice(&wire[4..]);
            std::fs::write(resp_dir.join(format!("{}-v{version}", key.name())), seed)?;
        }
    }
    let captures = vltava_testkit::captures::committed()?;
    for e in &captures.entries {
        let frame = captures.frame(e)?;
        std::fs::write(
            req_dir.join(format!("client-{}", e.frame.trim_end_matches(".bin"))),
            &frame[4..],
        )?;
    }
    Ok(())
}
