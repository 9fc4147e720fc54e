// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "muster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "muster", targets: ["muster"]),
        .executable(name: "muster-bench", targets: ["MusterBench"]),
        .library(name: "MusterCore", targets: ["MusterCore"]),
        .library(name: "MusterStore", targets: ["MusterStore"]),
        .library(name: "MusterRuntime", targets: ["MusterRuntime"]),
        .library(name: "MusterPostgres", targets: ["MusterPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // posix_spawn + pidfd helpers: C variadics (syscall) and glibc's *_np spawn actions are not importable from Swift.
        .target(name: "CMusterSystem"),
        .target(name: "MusterCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "MusterStore", dependencies: ["MusterCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // The conformance suite every Store implementation must pass (SQLite now, PostgreSQL later).
        .target(name: "MusterStoreConformance", dependencies: ["MusterStore"]),
        // PostgresStore: the Store on PostgreSQL, for runs spread over several hosts.
        .target(name: "MusterPostgres", dependencies: [
            "MusterStore", .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .target(name: "MusterRuntime", dependencies: ["MusterStore", "CMusterSystem"]),
        // The live views: terminal dashboard, tmux panes, notifications. Reads the Store, never writes task state.
        .target(name: "MusterTerminal", dependencies: ["MusterStore"]),
        .executableTarget(name: "muster", dependencies: [
            "MusterCore", "MusterStore", "MusterRuntime", "MusterTerminal", "MusterPostgres",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .executableTarget(name: "MusterBench", dependencies: [
            "MusterStore", "MusterRuntime", "MusterPostgres",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "MusterCoreTests", dependencies: ["MusterCore"]),
        .testTarget(name: "MusterStoreTests", dependencies: ["MusterStore", "MusterStoreConformance"]),
        .testTarget(name: "MusterRuntimeTests", dependencies: ["MusterRuntime"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MusterTerminalTests", dependencies: ["MusterTerminal", "MusterStore", "MusterCore"]),
        .testTarget(name: "MusterPostgresTests", dependencies: [
            "MusterPostgres", "MusterStore", "MusterStoreConformance", "MusterRuntime",
        ]),
        .testTarget(name: "EndToEndTests", dependencies: ["MusterStore", "MusterRuntime"]),
    ]
)
