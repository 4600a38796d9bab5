// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Epilogue",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "epilogue-store", targets: ["epilogue-store"]),
        .executable(name: "epilogue-gateway", targets: ["epilogue-gateway"]),
        .executable(name: "epilogue-bench", targets: ["epilogue-bench"]),
        .library(name: "EpilogueProtocol", targets: ["EpilogueProtocol"]),
        // For the fuzz targets in Fuzz/ (a separate package).
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
        // zlib from the system (apt: libz-dev); wrapped once in EpilogueShared.Zlib.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["libz-dev"])]
        ),
        .target(
            name: "EpilogueShared",
            dependencies: [
                "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared"
        ),
        .target(
            name: "EpilogueProtocol",
            dependencies: [
                "EpilogueShared",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Protocol"
        ),
        .target(
            name: "EpilogueStore",
            dependencies: [
                "EpilogueShared",
                "EpilogueProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/StoreService",
            resources: [.copy("Resources/dataset.json")]
        ),
        // The client side of wire protocol v1: pooled, pipelined, reconnecting.
        .target(
            name: "EpilogueStoreClient",
            dependencies: [
                "EpilogueShared",
                "EpilogueProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/StoreClient"
        ),
        .target(
            name: "EpilogueGateway",
            dependencies: [
                "EpilogueShared",
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
        .executableTarget(
            name: "epilogue-store",
            dependencies: [
                "EpilogueStore",
                "EpilogueStoreClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "epilogue-gateway",
            dependencies: [
                "EpilogueGateway",
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
                "EpilogueStore",
                "EpilogueShared",
                "EpilogueProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "EpilogueTests",
            dependencies: [
                "EpilogueShared",
                "EpilogueProtocol",
                "EpilogueStore",
                "EpilogueGateway",
                "EpilogueStoreClient",
                "EpilogueBenchWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
