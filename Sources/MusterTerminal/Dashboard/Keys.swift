/// Keys the dashboard understands, decoded from raw terminal input.
public enum Key: Equatable, Sendable {
    case up, down, pageUp, pageDown, home, end, enter, escape, backspace, interrupt
    case character(Character)

    /// Splits a burst of input into keys (escape sequences for arrows and paging included).
    public static func decode(_ bytes: [UInt8]) -> [Key] {
        var keys: [Key] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case 0x1B:
                if i + 2 < bytes.count, bytes[i + 1] == 0x5B || bytes[i + 1] == 0x4F {
                    let c = bytes[i + 2]
                    switch c {
                    case 0x41: keys.append(.up); i += 3; continue
                    case 0x42: keys.append(.down); i += 3; continue
                    case 0x48: keys.append(.home); i += 3; continue
                    case 0x46: keys.append(.end); i += 3; continue
                    case 0x43, 0x44: i += 3; continue
                    case 0x30...0x39:
                        // ESC [ n ~
                        var j = i + 2
                        while j < bytes.count, bytes[j] != 0x7E, j - i < 8 { j += 1 }
                        let code = String(decoding: bytes[(i + 2)..<min(j, bytes.count)], as: UTF8.self)
                        switch code {
                        case "5": keys.append(.pageUp)
                        case "6": keys.append(.pageDown)
                        case "1", "7": keys.append(.home)
                        case "4", "8": keys.append(.end)
                        default: break
                        }
                        i = j + 1
                        continue
                    default: i += 3; continue
                    }
                }
                keys.append(.escape)
                i += 1
            case 0x0D, 0x0A: keys.append(.enter); i += 1
            case 0x7F, 0x08: keys.append(.backspace); i += 1
            case 0x03, 0x04: keys.append(.interrupt); i += 1
            case 0x0E: keys.append(.down); i += 1   // Ctrl-N
            case 0x10: keys.append(.up); i += 1     // Ctrl-P
            case 0x20...0x7E: keys.append(.character(Character(UnicodeScalar(b)))); i += 1
            case 0xC0...0xFF:
                // A UTF-8 sequence (for the filter).
                let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                let end = min(bytes.count, i + length)
                if let c = String(decoding: bytes[i..<end], as: UTF8.self).first { keys.append(.character(c)) }
                i = end
            default: i += 1
            }
        }
        return keys
    }
}
