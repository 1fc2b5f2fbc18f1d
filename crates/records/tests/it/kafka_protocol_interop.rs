//! Cross-check against the independent `kafka-protocol` crate: batches built here
//! decode in its record decoder, and batches it encodes decode here, for every
//! codec, with every field compared.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchIter, Compression, DecodeLimits, Header, RecordsReader,
    TimestampType,
};

const CODECS: [(Compression, KpCompression); 5] = [
    (Compression::None, KpCompression::None),
    (Compression::Gzip, KpCompression::Gzip),
    (Compression::Snappy, KpCompression::Snappy),
    (Compression::Lz4, KpCompression::Lz4),
    (Compression::Zstd, KpCompression::Zstd),
];

struct Sample {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn samples() -> Vec<Sample> {
    (0..50)
        .map(|i: i64| Sample {
            // Out of order on purpose: negative timestamp deltas.
            timestamp: 1_700_000_000_000 + (i * 7919) % 1000,
            key: (i % 5 != 0).then(|| format!("key-{i}").into_bytes()),
            value: (i % 7 != 0).then(|| format!("value-{i}-").repeat(i as usize).into_bytes()),
            headers: (0..(i % 3))
                .map(|h| {
                    let v = (h % 2 == 0).then(|| format!("hv{i}.{h}").into_bytes());
                    (format!("hk{h}"), v)
                })
                .collect(),
        })
        .collect()
}

#[test]
fn our_batches_decode_in_kafka_protocol() {
    for (codec, kp_codec) in CODECS {
        for (ts_type, transactional) in [
            (TimestampType::CreateTime, false),
            (TimestampType::LogAppendTime, true),
        ] {
            let mut b = BatchBuilder::new(BatchBuilderConfig {
                compression: codec,
                base_offset: 1_000,
                partition_leader_epoch: 4,
                producer_id: 77,
                producer_epoch: 3,
                base_sequence: 10,
                transactional,
                timestamp_type: ts_type,
                ..BatchBuilderConfig::default()
            });
            let samples = samples();
            for s in &samples {
                let headers: Vec<Header> = s
                    .headers
                    .iter()
                    .map(|(k, v)| Header::new(k.as_bytes(), v.as_deref()))
                    .collect();
                assert!(
                    b.append(s.timestamp, s.key.as_deref(), s.value.as_deref(), &headers)
                        .expect("append")
                );
            }
            let mut bytes = b.build().expect("build");
            let sets = RecordBatchDecoder::decode_all(&mut bytes).expect("kafka-protocol decodes");
            assert_eq!(sets.len(), 1, "{codec:?}");
            assert_eq!(sets[0].compression, kp_codec);
            let got = &sets[0].records;
            assert_eq!(got.len(), samples.len());
            let max_ts = samples.iter().map(|s| s.timestamp).max().expect("samples");
            for (i, (r, s)) in got.iter().zip(&samples).enumerate() {
                assert_eq!(r.offset, 1_000 + i as i64, "{codec:?}");
                assert_eq!(r.sequence, 10 + i as i32);
                assert_eq!(r.producer_id, 77);
                assert_eq!(r.producer_epoch, 3);
                assert_eq!(r.partition_leader_epoch, 4);
                assert_eq!(r.transactional, transactional);
                assert!(!r.control);
                match ts_type {
                    TimestampType::CreateTime => {
                        assert_eq!(r.timestamp_type, KpTimestampType::Creation);
                        assert_eq!(r.timestamp, s.timestamp, "{codec:?} #{i}");
                    }
                    TimestampType::LogAppendTime => {
                        assert_eq!(r.timestamp_type, KpTimestampType::LogAppend);
                        // kafka-protocol reports the record's own timestamp; the batch
                        // max timestamp is what Kafka means by log-append time.
                        assert!(r.timestamp <= max_ts);
                    }
                }
                assert_eq!(r.key.as_deref(), s.key.as_deref(), "{codec:?} #{i}");
                assert_eq!(r.value.as_deref(), s.value.as_deref(), "{codec:?} #{i}");
                let headers: Vec<(String, Option<Vec<u8>>)> = r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_vec())))
                    .collect();
                assert_eq!(headers, s.headers, "{codec:?} #{i}");
            }
        }
    }
}

#[test]
fn kafka_protocol_batches_decode_here() {
    for (codec, kp_codec) in CODECS {
        let samples = samples();
        let records: Vec<KpRecord> = samples
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut headers = IndexMap::new();
                for (k, v) in &s.headers {
                    headers.insert(StrBytes::from_string(k.clone()), v.clone().map(Bytes::from));
                }
                KpRecord {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: 9,
                    producer_id: 55,
                    producer_epoch: 1,
                    timestamp_type: KpTimestampType::Creation,
                    offset: 300 + i as i64,
                    sequence: 20 + i as i32,
                    timestamp: s.timestamp,
                    key: s.key.clone().map(Bytes::from),
                    value: s.value.clone().map(Bytes::from),
                    headers,
                }
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: kp_codec,
            },
        )
        .expect("kafka-protocol encodes");
        let buf = buf.freeze();
        let mut batches = 0;
        for view in BatchIter::new(&buf) {
            let view = view.expect("batch");
            view.validate_crc().expect("crc");
            assert_eq!(view.header().attributes.compression(), Some(codec));
            assert_eq!(view.header().producer_id, 55);
            assert_eq!(view.header().base_sequence, 20);
            assert_eq!(view.header().partition_leader_epoch, 9);
            batches += 1;
        }
        assert_eq!(batches, 1, "{codec:?}: one batch");
        let got: Vec<_> = RecordsReader::new(&buf, DecodeLimits::default())
            .collect::<Result<_, _>>()
            .expect("records decode here");
        assert_eq!(got.len(), samples.len());
        for (i, ((h, r), s)) in got.iter().zip(&samples).enumerate() {
            assert_eq!(r.offset(h), 300 + i as i64, "{codec:?}");
            assert_eq!(r.timestamp(h), s.timestamp, "{codec:?} #{i}");
            assert_eq!(r.key.as_deref(), s.key.as_deref());
            assert_eq!(r.value.as_deref(), s.value.as_deref());
            let headers: Vec<(String, Option<Vec<u8>>)> = r
                .headers
                .iter()
                .map(|hd| {
                    (
                        String::from_utf8(hd.key.to_vec()).expect("utf-8 header key"),
                        hd.value.as_ref().map(|v| v.to_vec()),
                    )
                })
                .collect();
            assert_eq!(headers, s.headers, "{codec:?} #{i}");
        }
    }
}
