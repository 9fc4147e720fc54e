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
        .library(name: "MusterPostgres", targets: ["MusterPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // posix_spawn + pidfd helpers: C variadics (syscall) and glibc's *_np spawn actions are not importable from Swift.
        .target(name: "CMusterSystem"),
        // The operating system seen from Swift: C argv/envp arrays, Unix signals as an async sequence.
        .target(name: "MusterSystem"),
        .target(name: "MusterCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "MusterStore", dependencies: ["MusterCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // The conformance suite every Store implementation must pass (SQLite now, PostgreSQL later).
        .target(name: "MusterStoreConformance", dependencies: ["MusterCore", "MusterStore"]),
        // PostgresStore: the Store on PostgreSQL, for runs spread over several hosts.
        .target(name: "MusterPostgres", dependencies: [
            "MusterStore", .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // muster.toml (ProjectConfig) is read here, so every front door sees the same profiles, limits and prices.
        .target(name: "MusterRuntime", dependencies: ["MusterCore", "MusterStore", "CMusterSystem", "MusterSystem",
                                                      .product(name: "TOMLKit", package: "TOMLKit")]),
        // The live views: terminal dashboard, tmux panes, notifications. Reads the Store, never writes task state.
        .target(name: "MusterTerminal", dependencies: ["MusterStore", "MusterSystem"]),
        // The model stub (Anthropic Messages, OpenAI chat completions on 127.0.0.1), `--rehearse` and `doctor`.
        .target(name: "MusterRehearsal", dependencies: [
            "MusterRuntime",
            .product(name: "Yams", package: "Yams"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // `muster mcp`: the MCP server over stdio. No logic of its own: each tool calls the library function its CLI command calls.
        .target(name: "MusterMCP", dependencies: ["MusterCore", "MusterStore", "MusterRuntime", .product(name: "MCP", package: "swift-sdk")]),
        // The web board and Prometheus /metrics (`muster serve`). Reads the Store; control actions use the Store's own calls.
        .target(name: "MusterWeb", dependencies: [
            "MusterCore", "MusterStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "muster", dependencies: [
            "MusterCore", "MusterStore", "MusterRuntime", "MusterTerminal", "MusterSystem", "MusterRehearsal", "MusterMCP", "MusterWeb", "MusterPostgres",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "MusterBench", dependencies: [
            "MusterCore", "MusterStore", "MusterRuntime", "MusterPostgres",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // What tests share: temp folders that clean up after themselves, the async end-to-end harness
        // (a temp git repository driven by the built binary), polling. A regular target so test targets can import it.
        .target(name: "MusterTestKit", dependencies: ["MusterRuntime"], path: "Tests/MusterTestKit"),
        .testTarget(name: "MusterCoreTests", dependencies: ["MusterCore"]),
        .testTarget(name: "MusterStoreTests", dependencies: ["MusterCore", "MusterStore", "MusterStoreConformance",
                                                      .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "MusterRuntimeTests", dependencies: ["MusterCore", "MusterStore", "MusterRuntime", "MusterTestKit"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MusterTerminalTests", dependencies: ["MusterTerminal", "MusterStore", "MusterCore", "MusterTestKit"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MusterStore", "MusterRuntime", "MusterTestKit", "MusterPostgres",
                                                    .product(name: "MCP", package: "swift-sdk"),
                                                    .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "MusterBenchTests", dependencies: ["MusterBench", "MusterRuntime", "MusterTestKit"]),
        .testTarget(name: "MusterRehearsalTests", dependencies: ["MusterRehearsal"]),
        .testTarget(name: "MusterWebTests", dependencies: [
            "MusterWeb", "MusterStore", "MusterCore", "MusterRuntime", "MusterTestKit",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "MusterPostgresTests", dependencies: [
            "MusterPostgres", "MusterStore", "MusterStoreConformance", "MusterRuntime",
        ]),
    ]
)
