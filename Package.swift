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
        .library(name: "MusterWeb", targets: ["MusterWeb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // posix_spawn + pidfd helpers: C variadics (syscall) and glibc's *_np spawn actions are not importable from Swift.
        .target(name: "CMusterSystem"),
        .target(name: "MusterCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "MusterStore", dependencies: ["MusterCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // The conformance suite every Store implementation must pass (SQLite now, PostgreSQL later).
        .target(name: "MusterStoreConformance", dependencies: ["MusterStore"]),
        .target(name: "MusterRuntime", dependencies: ["MusterStore", "CMusterSystem"]),
        // The live views: terminal dashboard, tmux panes, notifications. Reads the Store, never writes task state.
        .target(name: "MusterTerminal", dependencies: ["MusterStore"]),
        // The web board and Prometheus /metrics (`muster serve`). Reads the Store; control actions use the Store's own calls.
        .target(name: "MusterWeb", dependencies: [
            "MusterCore", "MusterStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "muster", dependencies: [
            "MusterCore", "MusterStore", "MusterRuntime", "MusterTerminal", "MusterWeb",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .executableTarget(name: "MusterBench", dependencies: [
            "MusterStore", "MusterRuntime",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "MusterCoreTests", dependencies: ["MusterCore"]),
        .testTarget(name: "MusterStoreTests", dependencies: ["MusterStore", "MusterStoreConformance"]),
        .testTarget(name: "MusterRuntimeTests", dependencies: ["MusterRuntime"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MusterTerminalTests", dependencies: ["MusterTerminal", "MusterStore", "MusterCore"]),
        .testTarget(name: "MusterWebTests", dependencies: [
            "MusterWeb", "MusterStore", "MusterCore", "MusterRuntime",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EndToEndTests", dependencies: ["MusterStore", "MusterRuntime"]),
    ]
)
