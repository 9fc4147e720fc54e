import Foundation
import MusterCore

// What the Store sums and counts for views in one query each (`StoreReader`'s aggregates), so
// `/metrics` and the boards never load every task to count it.

/// A run as an index lists it: no workflow to decode.
public struct RunIndexEntry: Sendable, Equatable {
    public var id: String
    public var status: RunStatus
    public var createdAt: Date
    public init(id: String, status: RunStatus, createdAt: Date) {
        self.id = id
        self.status = status
        self.createdAt = createdAt
    }
}

/// Tokens and cost of the tasks whose spec names `agent` and `model` (nil: the agent's default).
public struct UsageTotal: Sendable, Equatable {
    public var agent: String
    public var model: String?
    public var tokens: TokenUsage
    public var costUSD: Double
    public init(agent: String, model: String?, tokens: TokenUsage, costUSD: Double) {
        self.agent = agent
        self.model = model
        self.tokens = tokens
        self.costUSD = costUSD
    }
}

/// Values counted into buckets by upper bound: `bins[i]` holds the values in
/// (`bounds[i-1]`, `bounds[i]`], the last bin those above every bound. Each bin keeps its count and
/// sum, so a Prometheus histogram rebuilt from it (the bin's mean recorded `count` times: the mean
/// lies inside the bin) has exact bucket counts and an exact sum.
public struct Distribution: Sendable, Equatable {
    public struct Bin: Sendable, Equatable {
        public var count: Int
        public var sum: Double
        public init(count: Int = 0, sum: Double = 0) {
            self.count = count
            self.sum = sum
        }
    }

    public var bounds: [Double]
    public var bins: [Bin]

    /// Bounds that are not finite are dropped; the rest are sorted.
    public init(bounds: [Double]) {
        self.bounds = Array(Set(bounds.filter(\.isFinite))).sorted()
        bins = Array(repeating: Bin(), count: self.bounds.count + 1)
    }

    public func bin(of value: Double) -> Int { bounds.firstIndex { value <= $0 } ?? bounds.count }

    public mutating func add(_ value: Double) {
        let i = bin(of: value)
        bins[i].count += 1
        bins[i].sum += value
    }

    public mutating func merge(_ other: Distribution) {
        guard other.bounds == bounds else {
            for bin in other.bins where bin.count > 0 { for _ in 0..<bin.count { add(bin.sum / Double(bin.count)) } }
            return
        }
        for i in bins.indices {
            bins[i].count += other.bins[i].count
            bins[i].sum += other.bins[i].sum
        }
    }

    public var count: Int { bins.reduce(0) { $0 + $1.count } }
    public var sum: Double { bins.reduce(0) { $0 + $1.sum } }
}
