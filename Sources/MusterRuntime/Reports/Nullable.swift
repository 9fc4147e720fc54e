import Foundation

/// An optional a JSON report shows as `null` rather than leaving its key out (what synthesized
/// `Encodable` does): the reports keep the shape their readers expect, every key always present.
@propertyWrapper
public struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

/// Dates in reports: ISO 8601 in UTC to the second (`2026-12-01T16:58:24Z`).
enum ReportDate {
    static func string(_ date: Date?) -> String? { date.map { $0.formatted(.iso8601) } }
}

/// Read back (tests, scripts in Swift): `null` is nil; the key itself must be there.
extension Nullable: Decodable where Value: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }
}
