// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Epilogue",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "epilogue-store", targets: ["epilogue-store"]),
        .executable(name: "epilogue-gateway", targets: ["epilogue-gateway"]),
        .library(name: "EpilogueProtocol", targets: ["EpilogueProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/StoreService",
            resources: [.copy("Resources/dataset.json")]
        ),
        .target(
            name: "EpilogueGateway",
            dependencies: [
                "EpilogueShared",
                "EpilogueProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/QueryGateway"
        ),
        .executableTarget(
            name: "epilogue-store",
            dependencies: [
                "EpilogueStore",
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
        .testTarget(
            name: "EpilogueTests",
            dependencies: [
                "EpilogueShared",
                "EpilogueProtocol",
                "EpilogueStore",
                "EpilogueGateway",
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
