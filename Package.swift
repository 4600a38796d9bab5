// swift-tools-version:6.1
import PackageDescription

// What every test target links: the modules under test.
let testedModules: [Target.Dependency] = [
    "EpilogueModel",
    "EpilogueShared",
    "EpilogueCompression",
    "EpilogueServerKit",
    "EpilogueProtocol",
    "EpilogueStorage",
    "EpilogueStore",
    "EpilogueGateway",
    "EpilogueStoreClient",
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
let testDependencies = testedModules + ["EpilogueTestSupport"]

let package = Package(
    name: "Epilogue",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "epilogue-store", targets: ["epilogue-store"]),
        .executable(name: "epilogue-gateway", targets: ["epilogue-gateway"]),
        .executable(name: "epilogue-bench", targets: ["epilogue-bench"]),
        .library(name: "EpilogueProtocol", targets: ["EpilogueProtocol"]),
        // For the fuzz targets in Fuzz/ (a separate package).
        .library(name: "EpilogueStorage", targets: ["EpilogueStorage"]),
        .library(name: "EpilogueStore", targets: ["EpilogueStore"]),
        .library(name: "EpilogueGateway", targets: ["EpilogueGateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Latency percentiles of `epilogue-bench load` only.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The domain: records, their validation, filters, search hits, films and themes. Plain
        // Swift values, no NIO and no Foundation, so every other module can share them.
        .target(name: "EpilogueModel", path: "Sources/Model"),
        // What lower layers share: the lock types and the one import of the C library.
        .target(
            name: "EpilogueShared",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Sources/Shared"
        ),
        // zlib from the system (apt: libz-dev); wrapped once in EpilogueCompression.Zlib.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["libz-dev"])]
        ),
        // Record-body compression: the zlib wrapper, preset dictionaries, the dictionary trainer.
        // Apart from the model because it links a C library the model's users (the wire
        // protocol, the gateway's text layer) never need; the store and the store client do.
        .target(
            name: "EpilogueCompression",
            dependencies: ["CZlib", "EpilogueShared"],
            path: "Sources/Compression"
        ),
        // Wire protocol v1: frames, messages and their codecs. No I/O.
        .target(
            name: "EpilogueProtocol",
            dependencies: [
                "EpilogueModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Protocol"
        ),
        // The NIO pieces both services (and the store client) build on: the listener skeleton,
        // read gate, slow-input guard, tick flusher, idle closer, metrics endpoint, port file,
        // logging, shared-secret auth, trace ids.
        .target(
            name: "EpilogueServerKit",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/ServerKit"
        ),
        // The store's engine: record log, durability gate, dictionary files, record index, search,
        // recovery, index snapshot, maintenance, backup, import, and the RecordStore façade. It
        // answers in domain types and never sees the wire protocol or NIO: the server layer
        // (EpilogueStore, in the Server/ folder, excluded here) maps both ways. Logging for its messages,
        // ServiceLifecycle because RecordStore is a Service (run() does maintenance, then closes).
        .target(
            name: "EpilogueStorage",
            dependencies: [
                "EpilogueModel",
                "EpilogueShared",
                "EpilogueCompression",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/StoreService",
            exclude: ["Server"],
            resources: [.copy("Resources/dataset.json")]
        ),
        // The store's server layer: listener, connection state machine and handler, request
        // handler, wire mapping of the engine's answers, backup frames, metrics.
        .target(
            name: "EpilogueStore",
            dependencies: [
                "EpilogueModel",
                "EpilogueShared",
                "EpilogueCompression",
                "EpilogueServerKit",
                "EpilogueProtocol",
                "EpilogueStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/StoreService/Server"
        ),
        // The client side of wire protocol v1: pooled, pipelined, reconnecting.
        .target(
            name: "EpilogueStoreClient",
            dependencies: [
                "EpilogueModel",
                "EpilogueShared",
                "EpilogueCompression",
                "EpilogueServerKit",
                "EpilogueProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/StoreClient"
        ),
        .target(
            name: "EpilogueGateway",
            dependencies: [
                "EpilogueModel",
                "EpilogueShared",
                "EpilogueServerKit",
                "EpilogueProtocol",
                "EpilogueStoreClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/QueryGateway"
        ),
        // The options both services' `main`s take (host, port, limits, metrics, port file, log
        // level), what a service process sets up from them, and how it runs its services.
        .target(
            name: "EpilogueCommandLine",
            dependencies: [
                "EpilogueServerKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/CommandLine"
        ),
        .executableTarget(
            name: "epilogue-store",
            dependencies: [
                "EpilogueCommandLine",
                "EpilogueStorage",
                "EpilogueStore",
                "EpilogueServerKit",
                "EpilogueStoreClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "epilogue-gateway",
            dependencies: [
                "EpilogueCommandLine",
                "EpilogueGateway",
                "EpilogueServerKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Reply framing and request templates of the load generator: no dependencies, so the
        // unit tests reach them without the benchmark's.
        .target(name: "EpilogueBenchWire", path: "Sources/EpilogueBenchWire"),
        // Benchmarks: figures printed, never asserted (see docs/PERFORMANCE.md).
        .executableTarget(
            name: "epilogue-bench",
            dependencies: [
                "EpilogueBenchWire",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "EpilogueStorage",
                "EpilogueModel",
                "EpilogueShared",
                "EpilogueCompression",
                "EpilogueProtocol",
                "EpilogueStoreClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Tests in three tiers (Tests/README.md), each its own target so `swift test --filter
        // EpilogueUnitTests` (or Integration, System) runs one tier; all link into the one
        // EpiloguePackageTests.xctest. What they share is in EpilogueTestSupport, a test target
        // without tests (so a release build never compiles it).
        .testTarget(
            name: "EpilogueTestSupport",
            dependencies: testedModules + [.product(name: "Logging", package: "swift-log")]
        ),
        // Pure, in memory: no file written, no socket but EmbeddedChannel, no child process.
        .testTarget(
            name: "EpilogueUnitTests",
            dependencies: testDependencies + [
                "EpilogueBenchWire",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        // Real files, loopback sockets and child processes, on any machine, as any user.
        .testTarget(
            name: "EpilogueIntegrationTests",
            dependencies: testDependencies + [.product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        // The machine itself: namespaces, nftables, FUSE, a full tmpfs (root), the deployment
        // files, kill-and-restart runs.
        .testTarget(name: "EpilogueSystemTests", dependencies: testDependencies),
    ],
    swiftLanguageModes: [.v6]
)
