//! `partition_for`: which `__consumer_offsets` partition holds a group, the
//! way Kafka picks it (Java's `String.hashCode`, its `Utils.abs`, modulo).

/// Java's `String.hashCode` over the UTF-16 code units of `s`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The `__consumer_offsets` partition of `group_id` among `partitions`
/// partitions. `partitions` below 1 is treated as 1.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group_id);
    // Kafka's Utils.abs maps i32::MIN to 0 instead of overflowing.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        // Values of "...".hashCode() in Java.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        // Overflowing hash and a non-BMP character (two UTF-16 units).
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash("\u{1F600}"), 1_772_899);
    }

    #[test]
    fn partition_is_abs_mod() {
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("my-group", 50), 12);
        for g in ["a", "b", "group-1", "x\u{e9}"] {
            let p = partition_for(g, 50);
            assert!((0..50).contains(&p));
        }
        assert_eq!(partition_for("anything", 0), 0);
    }
}
