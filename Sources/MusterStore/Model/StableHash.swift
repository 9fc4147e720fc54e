/// FNV-1a (64 bits) of a text: the same in every process and every version, unlike Swift's
/// `hashValue`, which is seeded per process. For names and keys that outlive a process.
public enum StableHash {
    public static func fnv1a(_ text: String, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var hash = seed
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
